"""The Compute API v2.1 (os-compute) of nova-api.

Layout, after Placement's:
  app.py         the WSGI middleware stack, built in one place
  routes.py      URL and method -> handler function
  handlers/      one module per resource; they check policy, validate, call objects/
  schemas/       the JSON schemas of request bodies, beside their handlers
  objects/       plain functions over the API and cell databases
  databases.py   the API database and the cells (scatter over cell mappings)
  microversion.py, versions.py, errors.py, validation.py, context.py, policy.py
"""
