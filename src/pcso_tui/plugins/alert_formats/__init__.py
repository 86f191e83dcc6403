"""The built-in alert formats: Alertmanager/Grafana webhooks and our generic JSON alert.

Each module is a plugin of its own (the generic one is the catch-all and answers last).
"""
