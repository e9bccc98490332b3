"""Event JSON Schemas and ClickHouse DDL, shipped as package data (import name ``cxpulse_schemas``)."""
