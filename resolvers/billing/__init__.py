"""Billing: orders, invoices, payments, prices and the money rules behind them."""
