"""The data subject's rights: the audit of PII reads, access (export) and erasure."""
