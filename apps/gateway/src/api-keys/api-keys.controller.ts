import { ResourceId } from '../common/resource-id.js';
import { Body, Controller, Delete, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { PageQueryDto, type Page } from '../common/pagination.js';
import { type ApiKeyDto, type CreatedApiKeyDto, CreateApiKeyDto } from './api-key.dto.js';
import { ApiKeyService } from './api-key.service.js';

@ApiTags('api-keys')
@ApiBearerAuth()
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly service: ApiKeyService) {}

  @Post()
  create(@Body() dto: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    return this.service.create(dto);
  }

  @Get()
  list(@Query() query: PageQueryDto): Promise<Page<ApiKeyDto>> {
    return this.service.list(query.limit, query.cursor);
  }

  @Delete(':id')
  @HttpCode(204)
  delete(@ResourceId() id: string): Promise<void> {
    return this.service.delete(id);
  }
}
