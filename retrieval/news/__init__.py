"""What makes answers news-aware: a question's time frame, timelines, disagreement between
sources, and dates beside quotes."""
