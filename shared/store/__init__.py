"""Adapters to Azure storage services: `tables` (Table Storage) and `secrets` (Key Vault).

Importing this package imports no SDK; each adapter module does, when imported.
"""
