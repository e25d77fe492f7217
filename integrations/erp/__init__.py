"""ERP adapters: one module per ERP protocol (k3cloud: Kingdee K/3 Cloud WebAPI), HTTP and parsing only."""
