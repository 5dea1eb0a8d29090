"""What every part shares and none owns: time budgets for user formulas (budget), atomic writes
(files), progress bars (progress) and where templates and data live (resources).
"""
