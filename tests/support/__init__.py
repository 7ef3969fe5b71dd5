"""Helpers shared by the test suites: finding tools and free ports, waiting for services."""
