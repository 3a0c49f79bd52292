app_name = "mfa"
urlpatterns: list = []
