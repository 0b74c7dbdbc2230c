"""Predicted customer lifetime value: per-store BG/NBD or Pareto/NBD and Gamma-Gamma fits, and
each customer's predictions, published on crm.insights.v1."""
