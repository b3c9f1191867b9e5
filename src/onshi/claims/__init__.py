"""A minimal online claims receiver (オンライン請求システム): the VPN's second destination."""
