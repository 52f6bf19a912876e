"""Real-time analysis: label a clip or a live stream now, touching neither the chain nor storage."""
