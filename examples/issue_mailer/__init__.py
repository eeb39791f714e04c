"""Issue Mailer: the reference Connect app (an "Email This Issue"-style Jira app)."""
