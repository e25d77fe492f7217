"""The credentials the simulators accept, which the demo's channel accounts and robots are set up with.

They open nothing but the local simulators; real accounts are entered by IT in the admin.
"""

TAOBAO = {"app_key": "23456789", "app_secret": "sim-taobao-app-secret-0001", "session": "6201sim-taobao-session-0001"}
JD = {"app_key": "SIMJDAPPKEY0001", "app_secret": "sim-jd-app-secret-0001", "access_token": "sim-jd-access-token-0001"}
SHOPIFY = {
    "shop": "loopline-demo.myshopify.com",
    "access_token": "shpat_sim_0000000000000000000000000001",
    "webhook_secret": "sim-shopify-webhook-secret-0001",
    "api_version": "2025-01",
}
DINGTALK = {
    "access_token": "sim-dingtalk-access-token-0001",
    "secret": "SECsim0000000000000000000000000000000000000001",
}
WECOM = {"key": "693a91f6-7c3d-4a7e-9a8b-5f1e2d3c4b5a"}
ALIYUN_SMS = {"access_key_id": "LTAIsim0000000001", "access_key_secret": "sim-aliyun-access-key-secret-0001"}
