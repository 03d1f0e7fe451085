"""The web tier: blueprints (views/), sign-in and sessions, htmx helpers, forms and their live
feedback, security headers, rate limits, error pages, the admin pages' queries and charts."""
