"""Turning passages into a cited answer: the extractive answerer (default), the generative one
(chat models, checked citations), and the follow-up condenser."""
