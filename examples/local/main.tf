# A stand-in for the reference MLflow service, made only of terraform's built-in
# terraform_data resource: no provider to download, no cloud account. It plans, applies and
# reports outputs exactly as the real environments do, so `scripts/local-run.sh` can run the
# whole plan -> merge -> apply cycle on any machine.

locals {
  # Where the "service" answers. A real environment reads these from the load balancer.
  service_ip   = "127.0.0.1"
  service_port = 5000
}

# The tracking server's deployment settings.
resource "terraform_data" "mlflow_deployment" {
  input = {
    image    = "ghcr.io/mlflow/mlflow:${var.mlflow_version}"
    replicas = var.replicas
  }
}

# The service address, as the load balancer would hand it out.
resource "terraform_data" "mlflow_ip" {
  input = local.service_ip
}

resource "terraform_data" "mlflow_url" {
  input = "http://${local.service_ip}:${local.service_port}"

  # A new deployment gets its address again, as a load balancer frontend would.
  triggers_replace = [terraform_data.mlflow_deployment.id]
}
