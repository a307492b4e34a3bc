"""Who a user is: signing up and in, sessions, API tokens, passwords."""
