"""Core of the orchestration service: models, validation, storage and engine logic.

Every Lambda function imports this package (deployed as a layer); the embedded runtime
imports it too. Pure modules (``dag``, ``pagination``, ``ids``) make no AWS calls.
"""
