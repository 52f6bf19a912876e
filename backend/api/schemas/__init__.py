"""Request and response models, one module per resource (plus the shared error shape)."""
