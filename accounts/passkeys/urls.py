app_name = "passkeys"
urlpatterns: list = []
