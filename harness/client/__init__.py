"""The clients: STOMP connections, the workload's producers and consumers, the sampler."""
