"""Whisper (Q3): the model built, loaded and fine-tuned (:mod:`.model`) and the chapter's
experiments (:mod:`.experiments`)."""
