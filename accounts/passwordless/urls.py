app_name = "passwordless"
urlpatterns: list = []
