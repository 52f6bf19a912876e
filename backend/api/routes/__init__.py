"""One router per resource; ``backend.api.app.ROUTERS`` lists them."""
