"""Work and review: starting, submitting, reviewing one or many, disputes, and the sweeps."""
