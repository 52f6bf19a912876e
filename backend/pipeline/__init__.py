"""The sound pipeline's logic, one module per idea: uploads, relayed registration, labelling, jobs,
the task queue, the dataset. Routes (``backend.api.routes``) and Celery tasks (``worker.tasks``)
are thin wrappers over these functions, which tests call directly."""
