"""What the router learns and keeps between requests: cooldowns and the prefix memory
(hit rates, calibration), behind protocols that a shared backend implements too."""
