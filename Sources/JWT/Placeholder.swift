// JWT
