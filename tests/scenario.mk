# Scenario suite and make demo (issue 5).
