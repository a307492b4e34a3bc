"""Invitations: inviting by email, who may grant what, accepting."""
