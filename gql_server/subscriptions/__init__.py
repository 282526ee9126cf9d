"""Live streams: the broadcast that carries committed events to subscribers on every process."""
