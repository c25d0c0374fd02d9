"""Core of the orchestration service, one package per subject (docs/architecture.md).

Every Lambda function imports this package (deployed as a layer); the embedded runtime
imports it too. The package files are empty: importing one costs nothing at a cold start.
"""
