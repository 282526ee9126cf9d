"""Root resolvers: check access, call a service, map the result. Nothing else."""
