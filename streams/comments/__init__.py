"""What customers write: PII masking, language, sentiment, emotion and themes of comments.

The labels and the ``Insight`` value live in ``labels``; ``classify`` runs the
bundled encoder and the project's trained heads, offline.
"""
