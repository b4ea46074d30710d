"""Bring up, tear down and introspect the cluster: Docker Compose, images, configuration, node state."""
