"""`newsbot eval`: a question set over a corpus, measured, with the tutorial baseline beside it."""
