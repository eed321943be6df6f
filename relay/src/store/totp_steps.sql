-- The last TOTP time step a user signed in with: each step's code is accepted once.
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
