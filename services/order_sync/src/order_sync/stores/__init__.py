"""The shops connected to order-sync: their platform, currency and default country."""
