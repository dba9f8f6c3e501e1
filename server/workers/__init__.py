"""Background work started in the app's lifespan."""
