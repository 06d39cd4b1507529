"""One module per kind of personal data: each a detector class (see ``..base.Detector``)."""
