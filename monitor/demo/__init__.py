"""A generated, fictional demo district (青禾区): boundaries, register, enrollment, identities, settlements."""
