"""CX Pulse: real-time customer-experience scores from Kafka into ClickHouse."""
