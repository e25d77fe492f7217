"""The credentials the simulated Kingdee K/3 Cloud accepts (integrations/simulators/k3cloud.py).

They open nothing but the local simulator; a real data centre's are entered by IT in the admin. `app_id` has the
form K/3 gives it, `<clientId>_<encoded secret>`.
"""

K3CLOUD = {
    "acct_id": "65a1b2c3d4e5f6",
    "username": "loopline",
    "password": "sim-k3cloud-password-0001",
    "app_id": "286410_U2ltSzNDbG91ZEFwcFNlYzAwMDE",
    "app_secret": "sim-k3cloud-app-secret-0001",
    "lcid": 2052,
}
