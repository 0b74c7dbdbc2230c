"""Lifecycle stage, value tier and RFM scores of customers."""
