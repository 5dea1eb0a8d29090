"""The audit of "When Equations Learn": claims as data plus one check each (claims), and the runner
and report writers (audit).
"""
