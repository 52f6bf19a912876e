"""The FastAPI gateway: app factory, dependencies, error format, one router per resource."""
