"""``python -m hw5lib.digits``: train and test one digit model (see :func:`hw5lib.digits.main`)."""

from hw5lib.digits import main

main()
