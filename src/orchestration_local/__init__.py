"""The embedded runtime and the command line: the service on one machine, no Docker, no AWS.

Never deployed. It reads ``template.yaml`` (one source of truth for routes, functions,
environment and tables), starts moto in-process, and runs the real Lambda handlers behind a
local emulation of API Gateway's REST proxy integration and TOKEN authorizer.
"""
