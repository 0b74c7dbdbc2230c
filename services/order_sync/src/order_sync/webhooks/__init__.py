"""Webhooks from Shopify and WooCommerce: verified, de-duplicated, kept raw, applied as orders."""
