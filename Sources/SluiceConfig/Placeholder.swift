// SluiceConfig: see GatewayConfig.swift
